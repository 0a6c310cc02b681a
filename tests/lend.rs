//! A reader that arrives before any writer lends its buffer, and the writer
//! copies straight into it. These tests pin what that must never change: a
//! read's buffer is never touched after the read returned (Go's nettest
//! `RacyRead` mutates it the instant `Read` returns), bytes copied into a lent
//! buffer are returned even when the read's timeout fires or the pipe closes
//! meanwhile, and nothing is lost or duplicated. Every test runs on both
//! engines (the reference engine never lends; it must give the same answers),
//! bounded in time.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{on_engines, Rng};

/// The byte at stream position `i`.
fn byte_at(i: usize) -> u8 {
    (i.wrapping_mul(7) % 251) as u8
}

/// Several readers read concurrently into buffers they overwrite with a
/// sentinel the instant each read returns, then check (after a while of other
/// traffic) that the sentinel is still there: a writer that copied into a
/// buffer after its read returned would show. Every byte arrives once.
#[test]
fn racy_read_buffers_are_never_touched_after_the_read() {
    on_engines(
        "racy_read_buffers_are_never_touched_after_the_read",
        |engine, make| {
            let (r, w) = make();
            const TOTAL: usize = 1 << 20;
            let readers: Vec<_> = (0..3)
                .map(|k| {
                    let r = r.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(0x5eed + k);
                        let mut got = Vec::new();
                        let mut buf = vec![0u8; 4096];
                        loop {
                            let len = rng.range(1, 4096);
                            match (&r).read(&mut buf[..len]) {
                                Ok(0) => return got,
                                Ok(n) => {
                                    got.extend_from_slice(&buf[..n]);
                                    // Mutate the whole buffer at once, as RacyRead
                                    // does, and look again a little later.
                                    buf.fill(0xEE);
                                    for _ in 0..rng.range(0, 200) {
                                        std::hint::spin_loop();
                                    }
                                    assert!(
                                        buf.iter().all(|&b| b == 0xEE),
                                        "a buffer was written after its read returned"
                                    );
                                }
                                Err(e) => panic!("read: {e}"),
                            }
                        }
                    })
                })
                .collect();
            drop(r);
            let data: Vec<u8> = (0..TOTAL).map(byte_at).collect();
            let mut rng = Rng::new(7);
            let mut at = 0;
            while at < TOTAL {
                let len = rng.range(0, 9000).min(TOTAL - at);
                (&w).write_all(&data[at..at + len]).unwrap();
                at += len;
            }
            drop(w);
            let mut total = 0;
            for t in readers {
                total += t.join().unwrap().len();
            }
            assert_eq!(total, TOTAL, "{engine}: every byte once");
        },
    );
}

/// Reads with a short timeout race writes of random sizes: a read returns
/// bytes or `TimedOut`, and the bytes the reads returned are exactly the
/// stream the writes reported, in order (one reader, so order is defined).
#[test]
fn timed_reads_racing_writes_lose_nothing() {
    on_engines("timed_reads_racing_writes_lose_nothing", |engine, make| {
        let (mut r, w) = make();
        r.set_read_timeout(Some(Duration::from_micros(50))).unwrap();
        let writer = thread::spawn(move || {
            let mut rng = Rng::new(11);
            let mut at = 0usize;
            for _ in 0..3000 {
                let len = rng.range(0, 300);
                let chunk: Vec<u8> = (at..at + len).map(byte_at).collect();
                (&w).write_all(&chunk).unwrap();
                at += len;
                if rng.one_in(8) {
                    thread::yield_now();
                }
            }
            at
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let mut timeouts = 0;
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut => timeouts += 1,
                Err(e) => panic!("{engine}: {e}"),
            }
        }
        let written = writer.join().unwrap();
        assert_eq!(got.len(), written, "{engine}: {timeouts} timeouts");
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == byte_at(i)),
            "{engine}: bytes out of order or wrong"
        );
    });
}

/// A reader blocked in `read` (lending its buffer) while the writer closes the
/// pipe, or the reader's own half is closed from another thread: the read
/// returns the bytes a write put in its buffer before the close, or the close
/// result; never a lost byte. Many rounds, to hit the races.
#[test]
fn close_racing_a_lent_buffer_loses_nothing() {
    on_engines(
        "close_racing_a_lent_buffer_loses_nothing",
        |engine, make| {
            for round in 0..300 {
                let (r, w) = make();
                let reader = {
                    let r = r.clone();
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        let mut buf = [0u8; 16];
                        loop {
                            match (&r).read(&mut buf) {
                                Ok(0) => return (got, None),
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                                Err(e) => return (got, Some(e)),
                            }
                        }
                    })
                };
                let close_reader = round % 2 == 1;
                let reported = (&w).write(b"0123456789abcdefXYZ").unwrap_or_default();
                if close_reader {
                    r.close();
                } else {
                    w.close();
                }
                let (got, err) = reader.join().unwrap();
                // The write's count is what readers took: never more, never less.
                assert_eq!(&got[..], &b"0123456789abcdefXYZ"[..got.len()], "{engine}");
                if !close_reader {
                    assert_eq!(got.len(), reported, "{engine} round {round}");
                    assert!(
                        err.is_none(),
                        "{engine}: writer close is end of file: {err:?}"
                    );
                } else {
                    assert!(got.len() >= reported.min(16), "{engine} round {round}");
                }
            }
        },
    );
}

/// Readers come and go with timeouts while one writer writes a counted
/// stream: whatever mix of lent buffers and offers carried them, every byte
/// the writer reported arrives exactly once, in order per write.
#[test]
fn readers_with_timeouts_and_a_counted_stream() {
    on_engines(
        "readers_with_timeouts_and_a_counted_stream",
        |engine, make| {
            let (r, w) = make();
            let stop = Arc::new(AtomicBool::new(false));
            let readers: Vec<_> = (0..2)
                .map(|k| {
                    let (r, stop) = (r.clone(), Arc::clone(&stop));
                    thread::spawn(move || {
                        r.set_read_timeout(Some(Duration::from_micros(30 + 40 * k)))
                            .unwrap();
                        let mut got = 0usize;
                        let mut buf = [0u8; 100];
                        loop {
                            match (&r).read(&mut buf) {
                                Ok(0) => return got,
                                Ok(n) => got += n,
                                Err(e) if e.kind() == ErrorKind::TimedOut => {
                                    if stop.load(Ordering::Relaxed) {
                                        return got;
                                    }
                                }
                                Err(e) => panic!("read: {e}"),
                            }
                        }
                    })
                })
                .collect();
            drop(r);
            let mut reported = 0;
            for i in 0..2000usize {
                reported += (&w).write(&vec![i as u8; i % 257]).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
            drop(w);
            let got: usize = readers.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(got, reported, "{engine}");
        },
    );
}
