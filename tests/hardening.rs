//! The hardening rules: close errors that would drive std's retry loops cross
//! as `Other`, timeouts bound every wait whatever the other threads do, the
//! write side serves a queued writer in bounded time, and the halves are unwind
//! safe. (The panic-safety of a write is pinned by the unit tests in
//! `src/engine/mod.rs`, through a test-only failpoint.)
//!
//! Each test here failed on the engine before the hardening (by its assertion
//! or by hanging into its time bound) and passes after it. Timing bounds are
//! generous: they tell "bounded" from "for ever", not fast from slow.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, on_engines, BOUND_SECS};
use gopipe::CloseError;

/// A close error of kind `Interrupted` or `WouldBlock` crosses as `Other`,
/// message and payload kept, so `read_to_end`, `read_exact`, `write_all` and
/// `io::copy` stop instead of retrying the closed pipe for ever.
#[test]
fn retry_kinds_cross_as_other() {
    on_engines("retry_kinds_cross_as_other", |engine, make| {
        for kind in [ErrorKind::Interrupted, ErrorKind::WouldBlock] {
            let ctx = format!("{engine}, {kind:?}");
            // Writer side closes: the reader's loops stop.
            let (mut r, w) = make();
            w.close_with_error(io::Error::new(kind, "try again?"));
            let err = r.read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{ctx}: read_to_end");
            assert_eq!(err.to_string(), "try again?", "{ctx}");
            let payload = CloseError::from_io(&err).expect("a CloseError payload");
            assert_eq!(payload.kind(), ErrorKind::Other, "{ctx}");
            let original = payload.get_ref().downcast_ref::<io::Error>().unwrap();
            assert_eq!(original.kind(), kind, "{ctx}: the original error is kept");
            let err = r.read_exact(&mut [0; 4]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{ctx}: read_exact");
            let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{ctx}: io::copy");

            // Reader side closes: the writer's loop stops.
            let (r, mut w) = make();
            r.close_with_error(io::Error::from(kind));
            let err = w.write_all(b"data").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Other, "{ctx}: write_all");
        }
        // Other kinds still cross unchanged.
        let (mut r, w) = make();
        w.close_with_error(io::Error::from(ErrorKind::TimedOut));
        let err = r.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{engine}: TimedOut kept");
    });
}

/// A timed read keeps meeting empty writes (each one a rendezvous that does
/// not end the read): it still returns `TimedOut` at about its timeout.
#[test]
fn timed_read_fed_empty_writes_times_out() {
    on_engines("timed_read_fed_empty_writes_times_out", |engine, make| {
        let (mut r, w) = make();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let writer = thread::spawn(move || {
            let mut empties = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                match (&w).write(b"") {
                    Ok(0) => empties += 1,
                    Ok(n) => panic!("an empty write reported {n} bytes"),
                    // The reader is dropped once its read returned: the
                    // write in flight then fails.
                    Err(e) if gopipe::is_closed_pipe(&e) => break,
                    Err(e) => panic!("an empty write failed: {e}"),
                }
            }
            empties
        });
        let timeout = Duration::from_millis(50);
        r.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        let res = r.read(&mut [0; 16]);
        let took = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        // Unblock the writer's last empty write.
        drop(r);
        let err = res.expect_err("no bytes were ever written");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{engine}: {err}");
        assert!(took >= timeout, "{engine}: timed out early ({took:?})");
        assert!(
            took < Duration::from_secs(10),
            "{engine}: a 50 ms read timeout took {took:?}"
        );
        let empties = writer.join().unwrap();
        assert!(empties > 0, "{engine}: the read consumed no empty write");
    });
}

/// A timed write of a large buffer whose rest two readers keep re-claiming a
/// byte at a time (it would take many seconds to drain) returns at about its
/// timeout with the exact count, and the readers got exactly those bytes.
#[test]
fn timed_write_with_readers_reclaiming_returns_in_time() {
    on_engines(
        "timed_write_with_readers_reclaiming_returns_in_time",
        |engine, make| {
            let (r, w) = make();
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let r = r.clone();
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        let mut b = [0u8; 1];
                        loop {
                            match (&r).read(&mut b) {
                                Ok(0) => return got,
                                Ok(_) => got.push(b[0]),
                                Err(e) => panic!("read failed: {e}"),
                            }
                        }
                    })
                })
                .collect();
            drop(r);
            // Every byte says where it came from: 4 bytes of the index, so a
            // lost or duplicated byte shows.
            let len = 64 << 20;
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let timeout = Duration::from_millis(50);
            w.set_write_timeout(Some(timeout)).unwrap();
            let start = Instant::now();
            let res = (&w).write(&data);
            let took = start.elapsed();
            drop(w);
            let n = match res {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::TimedOut => 0,
                Err(e) => panic!("{engine}: {e}"),
            };
            assert!(
                took < Duration::from_secs(10),
                "{engine}: a 50 ms write timeout took {took:?} ({n} bytes went)"
            );
            assert!(
                n < len,
                "{engine}: 1-byte reads drained 64 MiB in {took:?}?"
            );
            let mut total = 0;
            for t in readers {
                let got = t.join().unwrap();
                total += got.len();
            }
            assert_eq!(total, n, "{engine}: readers got exactly the bytes reported");
        },
    );
}

/// Busy work standing for a consumer that processes what it read: spins for
/// `d` without giving the core away.
fn work_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Writer A writes 64-byte writes in a tight loop to a reader that works a
/// little on each read, so that A holds the write side nearly all the time and
/// retakes it the moment it lets go; writer B, on another clone, makes one
/// write. B is served while A is still looping, within a bound far below the
/// time A would loop for: the write side is handed to a writer that has waited
/// long instead of going to whoever retakes it first.
#[test]
fn queued_writer_is_served_while_another_loops() {
    on_engines(
        "queued_writer_is_served_while_another_loops",
        |engine, make| {
            let (r, a) = make();
            let b = a.clone();
            let stop = Arc::new(AtomicBool::new(false));
            let a_writes = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = mpsc::channel();
            let reader = thread::spawn(move || {
                let mut buf = vec![0u8; 64 << 10];
                let mut from_b = 0;
                loop {
                    match (&r).read(&mut buf) {
                        Ok(0) => return from_b,
                        Ok(n) => {
                            from_b += buf[..n].iter().filter(|&&x| x == b'B').count();
                            work_for(Duration::from_micros(20));
                        }
                        Err(e) => panic!("read failed: {e}"),
                    }
                }
            });
            let (stop_a, count_a) = (Arc::clone(&stop), Arc::clone(&a_writes));
            let looper = thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                let chunk = [b'A'; 64];
                while !stop_a.load(Ordering::Relaxed) && Instant::now() < deadline {
                    (&a).write_all(&chunk).expect("A's write");
                    if count_a.fetch_add(1, Ordering::Relaxed) == 100 {
                        let _ = started_tx.send(());
                    }
                }
            });
            started_rx.recv().expect("A started looping");
            let start = Instant::now();
            (&b).write_all(&[b'B'; 64]).expect("B's write");
            let took = start.elapsed();
            let a_still_looping = !looper.is_finished();
            stop.store(true, Ordering::Relaxed);
            looper.join().unwrap();
            drop(b);
            assert_eq!(reader.join().unwrap(), 64, "{engine}: B's bytes arrived");
            assert!(
            a_still_looping && took < Duration::from_secs(2),
            "{engine}: B waited {took:?} behind A's loop (A looping: {a_still_looping}, {} writes)",
            a_writes.load(Ordering::Relaxed)
        );
        },
    );
}

/// Both halves are `UnwindSafe` and `RefUnwindSafe` (checked at compile time),
/// and a pipe used across `catch_unwind` keeps working.
#[test]
fn halves_are_unwind_safe() {
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>(_: &T) {}
    let (r, w) = gopipe::pipe();
    unwind_safe(&r);
    unwind_safe(&w);
    let out = bounded("halves_are_unwind_safe", BOUND_SECS, move || {
        let t = thread::spawn(move || {
            std::panic::catch_unwind(|| (&w).write(b"across catch_unwind")).unwrap()
        });
        let mut got = Vec::new();
        std::panic::catch_unwind(|| (&r).read_to_end(&mut got).map(|_| got))
            .unwrap()
            .unwrap()
            .len()
            + t.join().unwrap().unwrap()
    });
    assert_eq!(out, 2 * "across catch_unwind".len());
}
