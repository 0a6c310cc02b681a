//! The unwind guards, through the test-only failpoint: a write that panics
//! right after it published its offer.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering as StdOrdering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::PipeState;
use crate::pipe::{halves_for_tests, PipeReader, PipeWriter};

/// Runs `f` on its own thread; fails the test if it has not finished after
/// 60 s (a hang) instead of blocking the suite.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(out) => out,
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after 60 s: a hang"),
    }
}

/// Arms the failpoint: the next write on this pipe panics after its offer.
fn arm(writer: &PipeWriter) {
    writer
        .shared()
        .failpoints
        .panic_after_offer
        .store(true, StdOrdering::Relaxed);
}

/// Reads until end of file.
fn read_all(mut reader: PipeReader) -> Vec<u8> {
    let mut got = Vec::new();
    reader.read_to_end(&mut got).expect("read to end of file");
    got
}

/// The shipping engine: a write that panics after publishing its offer
/// (with no reader around to take it) takes the offer back before its
/// buffer is freed and frees the write side: a reader that comes later gets
/// none of those bytes, and another writer then writes normally.
#[test]
fn fast_write_panicking_after_its_offer_takes_it_back() {
    bounded(|| {
        let (reader, writer) = halves_for_tests(PipeState::new());
        arm(&writer);
        let doomed = b"doomed bytes".to_vec();
        let panicked = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
        assert!(panicked.is_err(), "the failpoint must panic");
        drop(doomed); // the lent buffer is gone: no reader may see it now

        let other = writer.clone();
        let t = thread::spawn(move || {
            let n = (&other)
                .write(b"kept")
                .expect("the write side is free again");
            drop(other);
            n
        });
        drop(writer);
        assert_eq!(read_all(reader), b"kept");
        assert_eq!(t.join().unwrap(), 4);
    });
}

/// The shipping engine, with a reader blocked in `read` when the write
/// panics: whatever the reader got is a prefix of the panicking write (a
/// copy in progress is waited for, never cut), and the pipe goes on. (A
/// write that finds the reader's buffer lent fills it and publishes no
/// offer, so then nothing panics.)
#[test]
fn fast_write_panicking_under_a_waiting_reader() {
    bounded(|| {
        for _ in 0..200 {
            let (reader, writer) = halves_for_tests(PipeState::new());
            arm(&writer);
            let r = thread::spawn(move || read_all(reader));
            let doomed = b"0123456789".to_vec();
            let first = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
            // A write that found the reader's buffer lent copied into it and
            // never published an offer: no failpoint, and all of it went.
            if let Ok(res) = first {
                assert_eq!(res.unwrap(), 10);
            }
            writer
                .shared()
                .failpoints
                .panic_after_offer
                .store(false, StdOrdering::Relaxed);
            drop(doomed);
            assert_eq!((&writer).write(b"after").unwrap(), 5);
            drop(writer);
            let got = r.join().unwrap();
            let cut = got.len() - 5;
            assert_eq!(&got[cut..], b"after", "{got:?}");
            assert_eq!(&got[..cut], &b"0123456789"[..cut], "{got:?}");
        }
    });
}

/// The shipping engine: a read that panics right after lending its buffer
/// takes the lend back before its buffer is freed (or waits for a writer
/// that is copying into it), and gives up the lender's role: a later write
/// goes to a later read, whole.
#[test]
fn fast_read_panicking_after_its_lend_takes_it_back() {
    bounded(|| {
        for round in 0..200 {
            let (reader, writer) = halves_for_tests(PipeState::new());
            reader
                .shared()
                .failpoints
                .panic_after_lend
                .store(true, StdOrdering::Relaxed);
            let w = thread::spawn(move || {
                let n = (&writer).write(b"payload").unwrap();
                drop(writer);
                n
            });
            let mut doomed = vec![0u8; 64];
            let first = catch_unwind(AssertUnwindSafe(|| (&reader).read(&mut doomed)));
            // The failpoint fires only in a read that lends: a read that
            // found the write on offer returns normally. Whatever a writer
            // copied into a lent buffer before the guard took it back is
            // lost with the panicking read (it never returned), but no
            // writer may copy into the buffer from then on.
            let copied_before = match first {
                Ok(res) => res.expect("a read that did not lend"),
                Err(_) => doomed.iter().take_while(|&&b| b != 0).count(),
            };
            // Disarmed, if that read did not lend.
            reader
                .shared()
                .failpoints
                .panic_after_lend
                .store(false, StdOrdering::Relaxed);
            let before = doomed.clone();
            drop(doomed);
            let got = read_all(reader);
            let n = w.join().unwrap();
            assert_eq!(n, 7, "round {round}");
            assert_eq!(&before[..copied_before], &b"payload"[..copied_before]);
            assert_eq!(
                copied_before + got.len(),
                7,
                "round {round}: {before:?} {got:?}"
            );
            assert_eq!(&b"payload"[copied_before..], &got[..], "round {round}");
        }
    });
}

/// The reference engine: the lease is handed over by a rendezvous, so the
/// reader has it when the write panics; the guard waits for its answer and
/// puts the write side's token back, and another write then goes through.
#[cfg(feature = "__reference-engine")]
#[test]
fn reference_write_panicking_after_its_offer_waits_and_frees_the_write_side() {
    bounded(|| {
        let (reader, writer) = halves_for_tests(PipeState::new_reference());
        arm(&writer);
        let r = thread::spawn(move || read_all(reader));
        let doomed = b"doomed".to_vec();
        let panicked = catch_unwind(AssertUnwindSafe(|| (&writer).write(&doomed)));
        assert!(panicked.is_err());
        drop(doomed);
        assert_eq!((&writer).write(b"kept").unwrap(), 4);
        drop(writer);
        assert_eq!(r.join().unwrap(), b"doomedkept");
    });
}
