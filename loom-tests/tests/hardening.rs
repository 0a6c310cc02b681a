//! Loom models of the hardened engine: more threads on each side than the
//! hand-off models use (three writers on the write side's lock word, two readers
//! racing a deadline), a writer taking its offer back from two readers, and a
//! panic unwinding through a write after it published its offer.
//!
//! As everywhere in this suite, the invariant is Go's: every byte a writer is
//! told it wrote reaches exactly one reader, once, in order, and no other byte
//! does. Every write is a `'static` byte string, so a reader that touched a
//! lease after its writer ended it shows up as a loom causality failure.
#![cfg(gopipe_loom)]

use std::io::{ErrorKind, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use loom::thread;
use loom_tests::{
    assert_closed_pipe, model, model_with_bound, quiet_failpoint_panics, read_to_end, read_until,
    write_until_error, ReadEnd,
};

/// Asserts that the bytes two readers got, merged, are exactly `expected` (whose
/// bytes are distinct), each byte once, and that each reader got its bytes in
/// the order they were written.
#[track_caller]
fn assert_split_between(mine: &[u8], theirs: &[u8], expected: &[u8]) {
    for got in [mine, theirs] {
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "a reader got bytes out of order: mine {mine:?}, theirs {theirs:?}"
        );
    }
    let mut all = [mine, theirs].concat();
    all.sort_unstable();
    assert_eq!(
        all, expected,
        "mine {mine:?}, theirs {theirs:?}; the writer reported {expected:?}"
    );
}

/// Three writer clones on three threads write one distinct byte each, one call
/// apiece, while the reader reads three bytes one at a time: every byte arrives
/// exactly once and each write reports 1.
///
/// Two writers can be parked on the write side's doorbell at once with one
/// token between them, and a writer woken for the write side can lose it to
/// the third one; under loom that uses up its patience (see `Patience` in
/// `src/sync/`), so this model also runs the starvation hand-off
/// (`HELD_STARVING`, `HANDOFF`). With four threads, the preemption bound is
/// capped at 1: that takes seconds and already reaches the hand-off (the
/// `no-handoff-bell` mutant dies here), while bound 2 takes minutes.
#[test]
fn three_writers_share_the_write_side() {
    model_with_bound("three_writers_share_the_write_side", 1, || {
        let (reader, first) = gopipe::pipe();
        let writers = [first.clone(), first.clone(), first];
        // The threads hand their writers back, so that no close races the writes.
        let threads: Vec<_> = writers
            .into_iter()
            .enumerate()
            .map(|(i, writer)| {
                thread::spawn(move || {
                    assert_eq!((&writer).write(&b"abc"[i..=i]).unwrap(), 1);
                    writer
                })
            })
            .collect();
        let (mut got, end) = read_until(&reader, 1, 3);
        assert!(matches!(end, ReadEnd::Enough), "{end:?}");
        got.sort_unstable();
        assert_eq!(got, b"abc", "a byte was lost or duplicated");
        let writers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        drop(writers);
    });
}

/// Two reader clones with a read timeout read one byte at a time while a
/// writer writes `ab`; each reader stops at its first timeout or after two
/// bytes and drops its clone, so the writer, still open, fails with
/// `ClosedPipe` if the readers leave before taking every byte.
///
/// A timed-out read consumed nothing, whichever reader it was and wherever the
/// deadline fell: the bytes the readers got, merged, are exactly the prefix
/// the writer was told it wrote, each byte once and in order per reader.
#[test]
fn read_timeout_with_two_readers() {
    model("read_timeout_with_two_readers", || {
        let (first, writer) = gopipe::pipe();
        first
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let second = first.clone();
        let read = |reader: gopipe::PipeReader| {
            let (got, end) = read_until(&reader, 1, 2);
            match &end {
                ReadEnd::Enough => {}
                ReadEnd::Failed(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}"),
                ReadEnd::Eof => panic!("end of file while the writer is open"),
            }
            // Dropping the last reader fails whatever the writer has left.
            got
        };
        let a = thread::spawn(move || read(first));
        let b = thread::spawn(move || read(second));
        let (n, err) = write_until_error(&writer, b"ab");
        let (mine, theirs) = (a.join().unwrap(), b.join().unwrap());
        assert_split_between(&mine, &theirs, &b"ab"[..n]);
        match err {
            None => assert_eq!(n, 2),
            Some(err) => assert_closed_pipe(&err),
        }
        drop(writer);
    });
}

/// A writer with a write timeout writes `ab` in one call while two reader
/// clones read one byte at a time until end of file; the writer then drops its
/// half. When the deadline fires with a reader copying, the writer recalls the
/// offer (`CLAIMED -> RECALLED`) and waits for that one copy, however many
/// readers keep reading.
///
/// The bytes the readers got, merged, are exactly the prefix the write
/// reported (`Ok(n)`, or none with `TimedOut`), each byte once and in order per
/// reader; both readers then see end of file.
///
/// Capped at preemption bound 2 to keep CI short: at bound 3 it explores
/// 893,225 interleavings (55 s) on this engine and 3.7 million (244 s) once
/// readers lend their buffers; at bound 2 it still kills every mutant that
/// bound 3 kills here (`writer-leaves-after-claim`, `no-recall-bell`,
/// `done-before-error-write`).
#[test]
fn write_timeout_with_two_readers_reclaiming() {
    model_with_bound("write_timeout_with_two_readers_reclaiming", 2, || {
        let (first, writer) = gopipe::pipe();
        writer
            .set_write_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let second = first.clone();
        let w = thread::spawn(move || {
            let n = match (&writer).write(b"ab") {
                Ok(n) => {
                    assert!((1..=2).contains(&n), "the write reported {n} of 2 bytes");
                    n
                }
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
                    0
                }
            };
            // Dropping the only writer ends both readers' loops with end of file.
            drop(writer);
            n
        });
        let r = thread::spawn(move || read_to_end(&second, 1));
        let (mine, end) = read_to_end(&first, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        let (theirs, end) = r.join().unwrap();
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        let n = w.join().unwrap();
        assert_split_between(&mine, &theirs, &b"ab"[..n]);
    });
}

/// A write panics right after it published its offer of `xy` (an injected
/// fault: `gopipe::__loom_panic_after_next_offer`); the writer catches the
/// panic, writes `k` normally and drops its half, while the reader reads one
/// byte at a time until end of file.
///
/// The unwind guard takes the offer back before the panic leaves the write,
/// waiting for a reader that is copying from it, and the write side is freed:
/// the reader gets a prefix of `xy` (the bytes it took before the guard took
/// the offer back, possibly none), then exactly `k`, then end of file, and the
/// next write reports 1. Without the guard the offer of `xy` would stay up
/// after the write left, and loom would see the reader's copy race the next
/// write's new lease (a causality failure), or a lost hand-off (a deadlock).
#[test]
fn writer_panics_after_its_offer() {
    quiet_failpoint_panics();
    model("writer_panics_after_its_offer", || {
        let (reader, writer) = gopipe::pipe();
        let w = thread::spawn(move || {
            gopipe::__loom_panic_after_next_offer(&writer);
            let unwound = catch_unwind(AssertUnwindSafe(|| (&writer).write(b"xy")));
            assert!(
                unwound.is_err(),
                "the injected panic did not fire: {unwound:?}"
            );
            assert_eq!((&writer).write(b"k").unwrap(), 1);
        });
        let (got, end) = read_to_end(&reader, 1);
        assert!(matches!(end, ReadEnd::Eof), "{end:?}");
        let ok = got
            .split_last()
            .is_some_and(|(&last, head)| last == b'k' && b"xy".starts_with(head));
        assert!(ok, "the reader got {got:?}: not a prefix of xy, then k");
        w.join().unwrap();
    });
}
